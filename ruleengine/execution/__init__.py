"""Execution: the position state machine shared by backtest, paper and live."""

from ruleengine.execution.machine import ExitContext, PositionStateMachine
from ruleengine.execution.types import Bar, EntrySignal, Event, ExecutionModel, Position, Trade

__all__ = ["Bar", "EntrySignal", "Event", "ExecutionModel", "ExitContext", "Position", "PositionStateMachine", "Trade"]
