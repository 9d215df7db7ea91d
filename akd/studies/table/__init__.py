"""The distillation-aware benchmark table: a pool of students, each trained with labels only and
with KD from several teachers over seeds (:mod:`.build`), the records and their loader
(:mod:`.records`), and what the table answers (:mod:`.analysis`, :mod:`.report`)."""

from ...tables import LABELS, Table, load_table, save_table

__all__ = ["LABELS", "Table", "load_table", "save_table"]
