import WeightFormats
print("weightlab")
