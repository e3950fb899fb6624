"""Jobs: durable state in Postgres, SQS messages as wake-ups."""
