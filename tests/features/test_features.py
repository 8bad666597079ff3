"""Binds every zh-CN feature under features/ to the step definitions in tests/features/steps/."""

from pytest_bdd import scenarios

scenarios(".")
