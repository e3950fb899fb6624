"""Credits and payments: the ledger (grant, reserve, capture, release) and payment-provider webhooks."""
