"""The staff workspace's views, by what they show (see each module)."""
