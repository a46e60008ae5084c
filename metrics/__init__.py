"""The numbers: store, org directory, CRM connectors, metric catalog, rollups and charts.

Knows nothing of Slack or schedules.
"""
