"""Delivery back ends: each takes one rendered message for one recipient, delivers it, and
reports what happened. Who gets what is decided by the core before a back end is called."""
