"""HTTP surface: thin views (parse -> service -> serialise)."""
