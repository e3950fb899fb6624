"""The job types every deployment has. Importing this package registers them."""
