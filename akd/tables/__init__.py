"""Benchmark tables: the format and loader of a table (one training budget, :mod:`.table`) and
of a ladder (the same students at a ladder of budgets, :mod:`.ladder`), and the ones that ship
with akd (``shipped/``)."""

from .ladder import LADDER_FIELDS, LADDER_FILE, Ladder, Rung, ladder_path, load_ladder
from .table import (FIELDS, LABELS, SHIPPED, TABLE_FILE, Records, Table, load_table, parse_record,
                    read_records, save_table, table_path)

__all__ = ["FIELDS", "LABELS", "LADDER_FIELDS", "LADDER_FILE", "Ladder", "Records", "Rung",
           "SHIPPED", "TABLE_FILE", "Table", "ladder_path", "load_ladder", "load_table",
           "parse_record", "read_records", "save_table", "table_path"]
