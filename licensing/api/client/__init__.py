"""The client API of DESIGN.md §3 (LicenseSpring-style, under /api/v4/)."""
