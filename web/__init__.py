"""The public lookup site (and, from web.staff, the staff area): server-rendered Jinja2 pages,
enhanced by htmx when JavaScript runs, complete without it.

Modules: `routes` (what is served where), `public` (the citizen pages), `templating` (the one
Jinja2 environment and the shared page context), `csrf` (the signed double-submit token),
`regions` (home-region chooser, pinyin type-ahead, "where are you now"), `data` (the few batched
database reads), `views` (plain view models the templates read).
"""
