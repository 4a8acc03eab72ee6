"""The explainable scorer, its weights, ranked queries, why-not and explanations."""
