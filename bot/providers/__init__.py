"""Vendor adapters behind one contract (`base.Provider`), the shared vendor HTTP client
(`http`), and the registry the bot builds from settings (`registry`).

Empty on purpose: importing one module of this part never loads the others (the registry
loads each vendor only when it is enabled). See ARCHITECTURE.md, "Adding a vendor".
"""
