"""SecurityEvent moves here from the shop app: state only, its table (shop_securityevent) and
rows stay where they are (shop/migrations/0003 forgets it on the shop side)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('shop', '0002_duplicate_payment_event'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SecurityEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('card_data_refused', 'Card data refused'), ('velocity_block', 'Payment velocity block'), ('login_failure', 'Admin login failure'), ('login_lockout', 'Admin login lockout'), ('otp_failure', 'Two-factor code failure'), ('csp_violation', 'Content-Security-Policy violation'), ('webhook_rejected', 'Webhook delivery rejected'), ('duplicate_payment', 'Cart paid twice (later payment refunded)')], db_index=True, max_length=32)),
                        ('path', models.CharField(blank=True, max_length=500)),
                        ('field_name', models.CharField(blank=True, max_length=200)),
                        ('client_ip', models.GenericIPAddressField(blank=True, db_index=True, null=True)),
                        ('user_agent', models.CharField(blank=True, max_length=500)),
                        ('detail', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={
                        'db_table': 'shop_securityevent',
                        'ordering': ['-created_at'],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
