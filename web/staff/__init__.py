"""The staff area (工作台) under /staff: one module per record or page (agreements, matters, halls,
contacts, partners, synonyms, history, handbook, activities, imports, users, …).

Its paths are listed with the public ones in `web.routes` (one route table); the public FAQ
handbook and case collection (/faq, /cases) are served from `web.staff.handbook`, beside the staff
pages that edit them.
"""
