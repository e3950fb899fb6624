"""Job types the engine itself offers, knowing no domain (today: `email.send`).

Types that belong to a domain live in it (`shared.webhooks`, `shared.media.derived`, `shared.publishing.items`,
`shared.automations.sales`, `shared.i18n.translate_job`); each function's composition root lists the ones it runs.
"""
