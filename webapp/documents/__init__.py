"""Documents: printed PDFs (WeasyPrint) and Excel files (openpyxl). A leaf any area may use."""
