"""The staff site at ``/staff``: bureau staff run the review procedure here."""
