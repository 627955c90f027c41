"""Pure helpers for the program (no pulumi import): CIDR plans, IAM documents, naming, app contract."""
