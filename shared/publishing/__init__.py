"""Publishers: where a content item goes when it is published (seed 002's DeviantArt, generalised)."""
