"""The running bot assembled from its parts (`helmbot run`, the demo): the composition root."""
