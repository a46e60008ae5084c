"""CRM data: one connector interface, one sync engine, and the connectors.

- `records`: what a connector yields (owners, deals with stage history, activities), pages
  and cursors, and the problems it reports for malformed records.
- `engine`: `sync_source` pulls every object of one connector page by page; each page is
  upserted in bulk and its cursor advanced in one transaction, so a crash resumes cleanly.
- connectors: `demo` (deterministic generator, the embedded default), `csv`, `hubspot`,
  `salesforce`, `pipedrive`; `factory.connector_for(source, ...)` builds one from settings.

Exceptions (`errors`)::

    CrmError
     ├── CrmConfigError   a connector is missing a setting or a file (clear message, no secret)
     ├── CrmApiError      the API failed after retries (status, path; never a token)
     └── SyncFailed       a sync stopped; the run row says where and why
"""
