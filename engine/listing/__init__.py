"""The responsibility list as officials publish it: the columns (`columns`), one search
(`search`) for the API and the pages, and the sheet
(xlsx/csv export, import of an edited sheet back into policy YAML).
"""

from engine.listing.columns import PROVENANCE_LABELS, REF_LABELS, RESPONSIBILITY_LABELS, Listing, render_limit
from engine.listing.search import SearchHit, by_domain, search_matters
from engine.listing.sheet import export_csv, export_xlsx, import_sheet, matters_in_force

__all__ = ["by_domain", "export_csv", "export_xlsx", "import_sheet", "Listing", "matters_in_force", "PROVENANCE_LABELS", "REF_LABELS", "render_limit", "RESPONSIBILITY_LABELS", "SearchHit", "search_matters"]
