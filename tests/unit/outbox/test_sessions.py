from switchyard.outbox.sessions import EngineHistory


def test_engine_history_inherits_until_next_session() -> None:
    history = EngineHistory("a")
    history.seen(10, "b")
    assert (history.at(9), history.at(10), history.at(50)) == ("a", "b", "b")


def test_engine_history_rewind_forgets_later_sessions() -> None:
    history = EngineHistory("a")
    history.seen(10, "b")
    history.rewind(5)
    assert history.current() == "a"
    history.seen(10, "b")  # read again after the rewind
    assert history.at(10) == "b"


def test_engine_history_same_engine_again_is_no_change() -> None:
    history = EngineHistory("a", since_seq=3)
    history.seen(7, "a")
    history.forget_before(8)
    assert history.at(8) == "a"


def test_engine_history_forget_before_keeps_value_at_seq() -> None:
    history = EngineHistory("a")
    history.seen(10, "b")
    history.seen(20, "c")
    history.forget_before(15)
    assert (history.at(15), history.at(25)) == ("b", "c")
