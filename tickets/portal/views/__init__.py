"""The customer portal's views, by what they show (see each module)."""
