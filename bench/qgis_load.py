"""Run by Debian's /usr/bin/python3 (python3-qgis), not the venv: QGIS headless loading an OAPIF
layer with its default settings, timed. Prints one JSON object. Usage: qgis_load.py URL COLLECTION

What is timed, from QgsApplication ready to the last feature:

    valid_s     the layer made (QgsVectorLayer(..., "OAPIF") with only url and typename: no page
                size, no feature limit, no bbox restriction) until isValid(): QGIS reads the
                landing page, /api, the collection and a first page for the fields
    count_s     featureCount(): what the layer's table shows before a read (numberMatched)
    read_s      every feature iterated (layer.getFeatures() with no request), as drawing the
                whole layer does: QGIS's downloader fetches every page into its local cache and
                the iterator hands each feature over
    total_s     all three
"""
import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsVectorLayer  # noqa: E402


def main(url, collection):
    started = time.perf_counter()
    layer = QgsVectorLayer(f"url='{url}' typename='{collection}'", collection, "OAPIF")
    valid = layer.isValid()
    made = time.perf_counter()
    report = {"qgis": Qgis.version(), "valid": valid, "valid_s": made - started}
    if not valid:
        return report
    count = layer.featureCount()
    counted = time.perf_counter()
    features = sum(1 for _ in layer.getFeatures())
    done = time.perf_counter()
    report.update(count=count, count_s=counted - made, features=features, read_s=done - counted,
                  total_s=done - started)
    return report


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps(main(*sys.argv[1:3])), flush=True)
    finally:
        app.exitQgis()
