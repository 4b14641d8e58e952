"""The project's URLs."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("signup", views.signup),
    path("invoice", views.invoice),
]
