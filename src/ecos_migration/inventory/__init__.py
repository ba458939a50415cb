"""Importers of the fleet inventory and of evidence: CSV files and DUIS 8.2 responses."""
