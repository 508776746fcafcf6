"""The bench's year of data (bench/year.py) is written in SQL, beside the models: each of its
INSERTs must name every column the database requires (NOT NULL, no default in the database),
or `make bench` fails on the first model change that adds one."""

import re
from pathlib import Path

from django.apps import apps
from django.db.models import NOT_PROVIDED

YEAR = Path(__file__).resolve().parents[2] / "bench" / "year.py"
INSERT = re.compile(r"INSERT INTO (\w+) \((.*?)\)\s*SELECT", re.S)


def test_each_insert_names_every_column_the_database_requires():
    inserts = INSERT.findall(YEAR.read_text())
    assert len(inserts) >= 5
    by_table = {model._meta.db_table: model for model in apps.get_models()}
    missing = [
        f"{table}.{field.column}"
        for table, columns in inserts
        for field in by_table[table]._meta.concrete_fields
        if not (field.null or field.primary_key or field.db_default is not NOT_PROVIDED)
        and field.column not in {column.strip() for column in columns.split(",")}
    ]
    assert missing == []
