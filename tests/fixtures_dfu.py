"""Small files in the format of the public DFU data, written into a test's ``tmp_path`` (never the real data).

They live in :mod:`fusionstudy.chapters.dfu_fixtures`, because the book's bad-input table (:mod:`fusionstudy.chapters.dfu_cases`)
builds its inputs with them too; this module keeps the tests' import path.
"""

from fusionstudy.chapters.dfu_fixtures import (BOTTOM, BOX_HEADER, CLASSES, CLINICAL_HEADER, FRAME, IMAGES, TOP,  # noqa: F401
                                    box_row, filename, visit_rows, write_csv, write_layout, write_png,
                                    write_png16)
