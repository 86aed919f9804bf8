"""The public gallery: lists of published models, their detail, views, likes and favourites."""
