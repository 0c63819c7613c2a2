"""The client API (LicenseSpring-style, under /api/v4/)."""
