"""The AI shopping guide: a fit/size advisor and a fit-aware catalog recommender."""
