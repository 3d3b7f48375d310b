"""Build: export the original, optimize and quantize its variants, through a content-addressed cache."""
