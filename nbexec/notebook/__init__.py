"""The notebook surface: IPython extension, %oms magics, live widgets."""
