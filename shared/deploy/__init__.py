"""Deploy-time tasks (database migrations run by a CloudFormation custom resource)."""
