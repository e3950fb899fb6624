"""Media: uploads, ingestion of S3 events, probing, derived files."""
