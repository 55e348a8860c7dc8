import { Component, type ReactNode } from 'react';

type Props = { fallback: (error: unknown, retry: () => void) => ReactNode; children: ReactNode };

/** Catches a failed query (Relay throws it while rendering). */
export class ErrorBoundary extends Component<Props, { error: unknown }> {
  state = { error: null as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    if (this.state.error) return this.props.fallback(this.state.error, () => this.setState({ error: null }));
    return this.props.children;
  }
}
