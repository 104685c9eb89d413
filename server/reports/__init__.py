"""Files made for people: the case timeline (SVG), exports (CSV, XLSX), documents for the Panel (DOCX, PDF)."""
