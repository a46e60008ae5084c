"""Local fake CRM APIs (HubSpot, Salesforce, Pipedrive) over real HTTP on loopback ports.

Each serves its vendor's documented response shapes (see ../shared/refs/) with paging, and
injects faults on demand: 429 with Retry-After, 5xx, hanging requests (client timeouts),
malformed records and a hard failure after N pages.
"""
