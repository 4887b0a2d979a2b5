"""The book's chapters: the tables, text and verdicts each page shows, computed from results."""
