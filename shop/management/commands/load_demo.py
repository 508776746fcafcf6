"""Load the demo catalog, in English and Thai. Safe to run any number of times: products are
matched by slug."""

from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Product

DEMO_PRODUCTS = [
    (
        "Celadon Mug",
        "celadon-mug",
        45000,
        "Wheel-thrown stoneware with the jade-green celadon glaze of Chiang Mai's kilns. 350 ml.",
        "แก้วมัคศิลาดล",
        "เครื่องปั้นดินเผาขึ้นรูปด้วยแป้นหมุน เคลือบศิลาดลสีเขียวหยกแบบเตาเผาเชียงใหม่ ขนาด 350 มล.",
    ),
    (
        "Indigo Tote Bag",
        "indigo-tote",
        79000,
        "Hand-woven cotton dyed with natural indigo in Sakon Nakhon. Sturdy enough for the market.",
        "กระเป๋าผ้าย้อมคราม",
        "ผ้าฝ้ายทอมือย้อมครามธรรมชาติจากสกลนคร แข็งแรง ใช้ไปจ่ายตลาดได้สบาย",
    ),
    (
        "Saa Paper Notebook",
        "saa-notebook",
        25000,
        "Mulberry-bark paper made by hand in Bo Sang. 96 blank pages, thread-bound.",
        "สมุดกระดาษสา",
        "กระดาษสาจากเปลือกปอสาทำมือที่บ่อสร้าง 96 หน้าไม่มีเส้น เย็บเล่มด้วยด้าย",
    ),
    (
        "Lemongrass Candle",
        "lemongrass-candle",
        39000,
        "Soy wax poured with lemongrass and kaffir lime oils. About 40 hours of burn time.",
        "เทียนหอมตะไคร้",
        "เทียนไขถั่วเหลืองผสมน้ำมันหอมระเหยตะไคร้และผิวมะกรูด จุดได้ประมาณ 40 ชั่วโมง",
    ),
    (
        "Jasmine Green Tea",
        "jasmine-tea",
        32000,
        "Highland green tea from Doi Mae Salong, scented with fresh jasmine. 100 g tin.",
        "ชาเขียวมะลิ",
        "ชาเขียวจากดอยแม่สลอง อบกลิ่นดอกมะลิสด บรรจุกระป๋อง 100 กรัม",
    ),
    (
        "Silk Scarf",
        "silk-scarf",
        129000,
        "Pure Thai silk, hand-woven on a backstrap loom in Pak Thong Chai. 180 × 50 cm.",
        "ผ้าพันคอไหม",
        "ผ้าไหมไทยแท้ ทอมือด้วยกี่เอวที่ปักธงชัย ขนาด 180 × 50 ซม.",
    ),
    (
        "Teak Serving Bowl",
        "teak-bowl",
        89000,
        "Turned from reclaimed teak and finished with food-safe oil. 24 cm across.",
        "ชามไม้สัก",
        "กลึงจากไม้สักเก่านำกลับมาใช้ใหม่ เคลือบด้วยน้ำมันที่ปลอดภัยต่ออาหาร เส้นผ่านศูนย์กลาง 24 ซม.",
    ),
    (
        "Jasmine Rice Soap",
        "rice-soap",
        12000,
        "Cold-process soap with rice bran and jasmine rice milk. Gentle enough for every day.",
        "สบู่ข้าวหอมมะลิ",
        "สบู่ทำแบบกวนเย็น ผสมรำข้าวและน้ำนมข้าวหอมมะลิ อ่อนโยน ใช้ได้ทุกวัน",
    ),
]


class Command(BaseCommand):
    help = "Create or refresh the demo products (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for name, slug, price, description, name_th, description_th in DEMO_PRODUCTS:
            _, was_created = Product.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "price": price,
                    "currency": "THB",
                    "description": description,
                    "name_th": name_th,
                    "description_th": description_th,
                    "image": f"img/products/{slug}.svg",
                    "active": True,
                },
            )
            created += was_created
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalog ready: {len(DEMO_PRODUCTS)} products ({created} new)."
            )
        )
