"""`frozen.build` makes the same object as the class's own `__init__`, and refuses what it cannot fill."""
import pickle
from datetime import date

import pytest

from geomap.analysis.frozen import build
from geomap.analysis.geodesy import Distance, Location
from geomap.analysis.model import DayRange, Incident


def test_build_equals_the_generated_init():
    values = ("i-1", "title", Location(44.2, 35.4, 100.0), date(2019, 12, 27), date(2019, 12, 28), "Battles",
              None, "confirmed", None, ("alpha",), ({"title": "a source"},))
    built, made = build(Incident, *values), Incident(*values)
    assert built == made and repr(built) == repr(made) and pickle.loads(pickle.dumps(built)) == made
    assert hash(build(Distance, 1.0, 0.5, 1.5)) == hash(Distance(1.0, 0.5, 1.5))
    with pytest.raises(AttributeError):  # still frozen
        built.title = "other"


def test_build_refuses_a_missing_value_and_a_class_that_checks_itself():
    with pytest.raises(ValueError):
        build(DayRange, 1)
    with pytest.raises(TypeError):
        build(Location, 44.2, 35.4, 0.0)  # its __post_init__ checks the values: build would skip it
