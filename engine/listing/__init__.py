"""The responsibility list as officials publish it: the columns (`columns`), one search
(`search`) for the API and the pages, and the sheet
(xlsx/csv export, import of an edited sheet back into policy YAML); a township's three lists
(`township_lists`: 基本 / 配合 / 收回) and their workbook (`three_sheets`).
"""

from engine.listing.columns import PROVENANCE_LABELS, REF_LABELS, RESPONSIBILITY_LABELS, Listing, render_limit
from engine.listing.search import SearchHit, by_domain, search_matters
from engine.listing.sheet import export_csv, export_xlsx, import_sheet, matters_in_force
from engine.listing.three_sheets import compare_three_lists, export_three_lists, read_three_lists
from engine.listing.township_lists import LIST_NAMES, LIST_ZH, ThreeLists, three_lists

__all__ = ["by_domain", "compare_three_lists", "export_csv", "export_three_lists", "export_xlsx", "import_sheet", "LIST_NAMES", "LIST_ZH", "Listing", "matters_in_force", "PROVENANCE_LABELS", "read_three_lists", "REF_LABELS", "render_limit", "RESPONSIBILITY_LABELS", "SearchHit", "search_matters", "three_lists", "ThreeLists"]
