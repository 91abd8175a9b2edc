"""The staff workspace (`/staff/`): the pages support agents, QA, peers and operations
work in all day, and the account pages every user shares (`/accounts/`).

Every view is a thin translator. It reads through the selectors (another organisation's
object, or a made-up key, is a 404), calls one service function per action, and maps a
`DomainError` back onto the page it came from: the refusal's sentence next to the button
or on the form, the form kept as typed, the error's HTTP status. Which actions a page
offers, and why one is blocked, is asked of the domain (`services.transitions_for`).

Forms work without JavaScript (POST, then redirect); htmx only swaps the part of the page
that changed (`hx-select` picks it out of the same full page a plain request gets).
"""
