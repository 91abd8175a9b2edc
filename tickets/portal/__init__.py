"""The customer portal (`/portal/`): what an enterprise customer's users do in the process
of WORKFLOW.md, written for business readers.

Every view is a thin translator: it fetches objects through the selectors (another
organisation's object is a 404), calls one service function per action, and maps a
`DomainError` back onto the page (the refusal's sentence next to what asked for it, the
form as typed, the error's HTTP status). Which actions a page offers, and why one is
blocked, is asked of the domain (`transitions_for`), never re-derived here.
"""
