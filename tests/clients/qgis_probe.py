"""Run by Debian's /usr/bin/python3 (python3-qgis), not the venv: QGIS headless against a geomap
server. Prints one JSON object of what QGIS saw. Usage: qgis_probe.py URL COLLECTION BBOX EXPRESSION,
or qgis_probe.py --count URL COLLECTION (a layer made and its feature count asked, nothing else, so
that the server's log shows what QGIS requested to count)

    valid, count          the OAPIF layer, and the feature count QGIS gives it before reading any
    ids                   every feature id, in a full read
    rect_ids              ids for a rectangle request (minx,miny,maxx,maxy), on a layer set to
                          "only request features overlapping the view extent", as a map canvas does
    expression_ids        ids with the layer's filter (subset string) set to EXPRESSION
    can_add, can_change   whether the OAPIF provider offers editing

Each question is asked of a layer of its own, so that none is answered from another's cache.
"""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
    QgsApplication,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorDataProvider,
    QgsVectorLayer,
)


def ids(layer, request=None):
    return sorted(str(f["id"]) for f in (layer.getFeatures(request) if request else layer.getFeatures()))


def layer_of(url, collection, extra=""):
    return QgsVectorLayer(f"url='{url}' typename='{collection}'{extra}", collection, "OAPIF")


def main(url, collection, bbox, expression):
    layer = layer_of(url, collection)
    report = {"qgis": Qgis.version(), "valid": layer.isValid()}
    if not layer.isValid():
        return report
    capabilities = layer.dataProvider().capabilities()
    report.update(count=layer.featureCount(), fields=[f.name() for f in layer.fields()])
    report["ids"] = ids(layer)
    rect = QgsRectangle(*map(float, bbox.split(",")))
    report["rect_ids"] = ids(layer_of(url, collection, " restrictToRequestBBOX='1'"),
                             QgsFeatureRequest().setFilterRect(rect))
    filtered = layer_of(url, collection)
    report["subset_accepted"] = filtered.setSubsetString(expression)
    report["expression_ids"] = ids(filtered)
    report["can_add"] = bool(capabilities & QgsVectorDataProvider.AddFeatures)
    report["can_change"] = bool(capabilities & QgsVectorDataProvider.ChangeAttributeValues)
    return report


def count_only(url, collection):
    layer = layer_of(url, collection)
    return {"qgis": Qgis.version(), "valid": layer.isValid(), "count": layer.featureCount() if layer.isValid() else None}


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps(count_only(*sys.argv[2:4]) if sys.argv[1] == "--count" else main(*sys.argv[1:5])))
    finally:
        app.exitQgis()
