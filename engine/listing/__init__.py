"""The responsibility list as officials publish it: the columns (`columns`) and the sheet
(xlsx/csv export, import of an edited sheet back into policy YAML).
"""

from engine.listing.columns import PROVENANCE_LABELS, RESPONSIBILITY_LABELS, Listing, render_limit
from engine.listing.sheet import export_csv, export_xlsx, import_sheet, matters_in_force

__all__ = ["export_csv", "export_xlsx", "import_sheet", "Listing", "matters_in_force", "PROVENANCE_LABELS", "render_limit", "RESPONSIBILITY_LABELS"]
