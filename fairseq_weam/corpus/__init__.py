"""Parallel corpora the plugin can build by itself (gettext catalogs installed on the machine)."""
