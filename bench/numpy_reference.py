#!/usr/bin/env python3
"""NumPy/SciPy reference of the attention-path analysis, for `npm run bench` (bench/bench.ts).

Reads the .npz the bench writes (X_train [P, N0, T], X_test, y_train, y_test, Q_l and K_l [H_l, G, N0] per
layer, heads, widths, variances, temperature, tolerance, mean readout) and runs the same algorithm as the
project (docs/theory.md §a-e, §g, §i): attention from Q/K, path token weights and features, the action with
U_a in closed form, L-BFGS (SciPy's L-BFGS-B, memory 12) on the Cholesky factors U_l = L_l L_l^T until
max |d(S/max N)/dU_l| < tolerance, then the predictor at finite width and in the GP limit, each head silenced,
and the overlap of the first 30 kernel PCs with the labels. The energy is evaluated in sample space (P x P) or,
when P is large against D = N0*H_tot, in feature space (D x D, Woodbury), by the project's cost rule.
Prints one JSON line: timings, iterations, metrics.
Usage: python3 bench/numpy_reference.py FILE.npz
"""
import json
import sys
import time

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize


def attention(X, Q, K):
    """A [P, H, T, T]: A[p, h, s, t] = softmax over keys s of (K x_s).(Q x_t)/sqrt(G)."""
    G = Q.shape[1]
    kx = np.einsum('hgn,pnt->phtg', K, X, optimize=True)
    qx = np.einsum('hgn,pnt->phtg', Q, X, optimize=True)
    S = np.matmul(kx, qx.transpose(0, 1, 3, 2)) / np.sqrt(G)
    S -= S.max(axis=2, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=2, keepdims=True)


def path_features(X, layers, s0):
    """Phi [P, N0, Q]: sqrt(s0/(N0 Q)) x c_pi(x), c built from the last layer down (mean readout)."""
    P, N0, T = X.shape
    As = [attention(X, Ql, Kl) for Ql, Kl in layers]
    c = As[-1].mean(axis=3)  # [P, H_L, T]
    for A in reversed(As[:-1]):
        c = np.einsum('phst,prt->phrs', A, c, optimize=True).reshape(P, -1, T)
    Q = c.shape[1]
    return np.sqrt(s0 / (N0 * Q)) * np.einsum('pit,pqt->piq', X, c, optimize=True)


class Theory:
    def __init__(self, heads, widths, variances, T):
        self.heads, self.widths, self.var, self.T = list(heads), list(widths), list(variances), T
        self.L = len(heads)
        self.sizes = [int(np.prod(heads[l:])) for l in range(self.L)]

    def ua(self, trUL):
        L = self.L
        HL, NL, Na, sa, sL = self.heads[-1], self.widths[L - 1], self.widths[L], self.var[L + 1], self.var[L]
        beta = sa * (HL * NL / Na - 1)
        gamma = trUL * NL * sa / (Na * sL)
        root = np.sqrt(beta * beta + 4 * gamma)
        return 2 * gamma / (beta + root) if beta > 0 else (root - beta) / 2

    @staticmethod
    def ptrace(U, H):
        m = U.shape[0] // H
        return np.einsum('hihj->ij', U.reshape(H, m, H, m))

    def entropy(self, Us):
        L = self.L
        inv, logdet = [], []
        for U in Us:
            c = sla.cho_factor(U, lower=True)
            inv.append(sla.cho_solve(c, np.eye(U.shape[0])))
            logdet.append(2 * np.log(np.diag(c[0])).sum())
        Ua = self.ua(np.trace(Us[-1]))
        Na, sa = self.widths[L], self.var[L + 1]
        val = Na * (Ua / sa - np.log(Ua))
        part = []
        for l in range(L):
            Nl, Hl, sl = self.widths[l], self.heads[l], self.var[l + 1]
            Tp = self.ptrace(Us[l], Hl)
            part.append(Tp)
            if l == L - 1:
                trA, ldA = Tp[0, 0] / Ua, np.log(Ua)
            else:
                trA, ldA = np.sum(inv[l + 1] * Tp), logdet[l + 1]
            val += Nl * (trA / sl - logdet[l] + Hl * ldA)
        grads = []
        for l in range(L):
            Nl, sl, n = self.widths[l], self.var[l + 1], Us[l].shape[0]
            J = np.eye(n) / (sl * Ua) if l == L - 1 else np.kron(np.eye(self.heads[l]), inv[l + 1]) / sl
            Gl = Nl * (J - inv[l])
            if l >= 1:
                Nb, Hb, sb = self.widths[l - 1], self.heads[l - 1], self.var[l]
                Gl += Nb * (Hb * inv[l] - inv[l] @ part[l - 1] @ inv[l] / sb)
            grads.append(Gl)
        return val, grads


def choose_space(P, N0, Q):
    D = N0 * Q
    sample = 2 * P * P * D + P ** 3 / 3 + 4 * P * D * Q
    feature = 4 / 3 * D ** 3 + 4 * D * D * Q + 4 * P * D
    return 'feature' if 2 * P * D * D + 40 * feature < 40 * sample else 'sample'


class Energy:
    """ln det(K + T I) + y^T (K + T I)^-1 y, its gradient, and the predictor, in one space."""

    def __init__(self, Phi, y, T, space):
        self.P, self.N0, self.Q = Phi.shape
        self.D = self.N0 * self.Q
        self.Phi, self.Phi2 = Phi, Phi.reshape(self.P, self.D)
        self.y, self.T, self.space = y, T, space
        if space == 'feature':
            self.G = self.Phi2.T @ self.Phi2
            self.b = self.Phi2.T @ y
            self.trG = np.einsum('iqir->qr', self.G.reshape(self.N0, self.Q, self.N0, self.Q))

    def ptrace_outer(self, w):
        W = w.reshape(self.N0, self.Q)
        return W.T @ W

    def kron_right(self, X, F):
        """X [n, N0*Q] times (I_N0 kron F), F [Q, r]."""
        n = X.shape[0]
        return (X.reshape(n * self.N0, self.Q) @ F).reshape(n, -1)

    def evaluate(self, U, grad=True):
        P, N0, Q, D, T = self.P, self.N0, self.Q, self.D, self.T
        if self.space == 'sample':
            K = self.kron_right(self.Phi2, U) @ self.Phi2.T
            K[np.diag_indices(P)] += T
            L = sla.cholesky(K, lower=True, overwrite_a=True, check_finite=False)
            z = sla.solve_triangular(L, self.y, lower=True, check_finite=False)
            val = 2 * np.log(np.diag(L)).sum() + z @ z
            self.state = ('sample', U, L, z)
            if not grad:
                return val, None
            alpha = sla.solve_triangular(L, z, lower=True, trans='T', check_finite=False)
            Z = sla.solve_triangular(L, self.Phi2, lower=True, check_finite=False)
            Zr = Z.reshape(P * N0, Q)
            g = Zr.T @ Zr - self.ptrace_outer(self.Phi2.T @ alpha)
            return val, (g + g.T) / 2
        F = np.linalg.cholesky(U)
        d = N0 * Q
        GF = self.kron_right(self.G, F)  # G (I kron F) [D, d]
        H = self.kron_right(GF.T.copy(), F)
        S = (H + H.T) / 2
        S[np.diag_indices(d)] += T
        R = np.linalg.cholesky(S)
        c = (self.b.reshape(N0, Q) @ F).ravel()
        v = sla.cho_solve((R, True), c, check_finite=False)
        u = (v.reshape(N0, Q) @ F.T).ravel()
        rho = self.y - self.Phi2 @ u
        val = (P - d) * np.log(T) + 2 * np.log(np.diag(R)).sum() + rho @ rho / T + v @ v
        self.state = ('feature', U, F, R, u)
        if not grad:
            return val, None
        w = self.Phi2.T @ rho / T
        X = sla.solve_triangular(R, GF.T, lower=True, check_finite=False)
        Xr = X.reshape(d * N0, Q)
        g = (self.trG - Xr.T @ Xr) / T - self.ptrace_outer(w)
        return val, (g + g.T) / 2

    def predict(self, Phit, U):
        """Mean and variance of f on test features Phit [Pt, N0, Q] (U may be singular: zero rows dropped)."""
        kept = np.flatnonzero(np.diag(U) > 0)
        Uk = U[np.ix_(kept, kept)]
        Ph = self.Phi[:, :, kept].reshape(self.P, -1)
        Pt = Phit.shape[0]
        Pht = Phit[:, :, kept].reshape(Pt, -1)
        sub = Energy(self.Phi[:, :, kept], self.y, self.T, self.space) if len(kept) < self.Q else self
        Bt = sub.kron_right(Pht, Uk)  # Phi_* (I kron U)
        diag = np.einsum('tj,tj->t', Pht, Bt)
        if self.space == 'sample':
            K = sub.kron_right(Ph, Uk) @ Ph.T
            K[np.diag_indices(self.P)] += self.T
            L = sla.cholesky(K, lower=True, overwrite_a=True, check_finite=False)
            alpha = sla.cho_solve((L, True), self.y, check_finite=False)
            ks = Ph @ Bt.T  # [P, Pt]
            mean = ks.T @ alpha
            V = sla.solve_triangular(L, ks, lower=True, check_finite=False)
            return mean, diag - np.einsum('mt,mt->t', V, V)
        sub.evaluate(Uk, grad=False)
        _, _, F, R, u = sub.state
        mean = Pht @ u
        A = sub.kron_right(Pht, F)
        Y = sla.solve_triangular(R, A.T, lower=True, check_finite=False)
        return mean, self.T * np.einsum('jt,jt->t', Y, Y)

    def pc_overlap(self, U, k=30):
        yy = self.y @ self.y
        if self.space == 'sample':
            K = self.kron_right(self.Phi2, U) @ self.Phi2.T
            lam, V = sla.eigh((K + K.T) / 2, subset_by_index=[self.P - k, self.P - 1])
            o = (V.T @ self.y) ** 2 / yy
            return np.cumsum(o[::-1])
        F = np.linalg.cholesky(U)
        GF = self.kron_right(self.G, F)
        H = self.kron_right(GF.T.copy(), F)
        lam, V = np.linalg.eigh((H + H.T) / 2)
        lam, V = lam[::-1][:k], V[:, ::-1][:, :k]
        c = (self.b.reshape(self.N0, self.Q) @ F).ravel()
        o = (V.T @ c) ** 2 / (lam * yy)
        return np.cumsum(o)


def metrics(mean, var, y):
    bias = np.mean((mean - y) ** 2)
    return {'acc': float(np.mean(np.sign(mean) == y)), 'eg': float(bias + np.mean(var))}


def main():
    t0 = time.perf_counter()
    c0 = time.process_time()
    z = np.load(sys.argv[1])
    X, Xt, y, yt = z['X_train'], z['X_test'], z['y_train'], z['y_test']
    heads = [int(h) for h in z['heads']]
    widths, variances = [float(v) for v in z['widths']], [float(v) for v in z['variances']]
    T, tol = float(z['temperature'][0]), float(z['tolerance'][0])
    layers = [(z[f'Q_{l + 1}'], z[f'K_{l + 1}']) for l in range(len(heads))]
    t1 = time.perf_counter()
    Phi = path_features(X, layers, variances[0])
    Phit = path_features(Xt, layers, variances[0])
    t2 = time.perf_counter()
    th = Theory(heads, widths, variances, T)
    P, N0, Q = Phi.shape
    en = Energy(Phi, y, T, choose_space(P, N0, Q))
    maxN = max(widths)
    sizes = th.sizes
    tril = [np.tril_indices(n) for n in sizes]
    evals = [0]
    last = {}

    def unpack(theta):
        Ls, k = [], 0
        for n, ix in zip(sizes, tril):
            Lm = np.zeros((n, n))
            m = len(ix[0])
            Lm[ix] = theta[k:k + m]
            k += m
            Ls.append(Lm)
        return Ls

    def fun(theta):
        evals[0] += 1
        Ls = unpack(theta)
        Us = [Lm @ Lm.T for Lm in Ls]
        try:
            ent, grads = th.entropy(Us)
            e, g1 = en.evaluate(Us[0])
        except (np.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(theta)
        grads[0] = grads[0] + g1
        last[theta.tobytes()] = max(np.abs(G).max() for G in grads) / maxN
        out = np.concatenate([(2 * G @ Lm)[ix] for G, Lm, ix in zip(grads, Ls, tril)]) / maxN
        return (ent + e) / maxN, out

    def callback(intermediate_result):
        g = last.get(intermediate_result.x.tobytes())
        if g is not None and g < tol:
            raise StopIteration

    Ugp = []
    for l, n in enumerate(sizes):
        Ugp.append(np.eye(n) * variances[-1] * np.prod(variances[l + 1:len(heads) + 1]))
    theta0 = np.concatenate([np.linalg.cholesky(U)[ix] for U, ix in zip(Ugp, tril)])
    res = minimize(fun, theta0, jac=True, method='L-BFGS-B', callback=callback,
                   options={'maxiter': 500, 'maxcor': 12, 'ftol': 0.0, 'gtol': 0.0, 'maxls': 40})
    U1 = unpack(res.x)[0] @ unpack(res.x)[0].T
    t3 = time.perf_counter()
    mean, var = en.predict(Phit, U1)
    m = metrics(mean, var, yt)
    gmean, gvar = en.predict(Phit, Ugp[0])
    gm = metrics(gmean, gvar, yt)
    t4 = time.perf_counter()
    silenced = []
    for l, H in enumerate(heads):
        for h in range(H):
            idx = np.array(np.unravel_index(np.arange(Q), heads))[l] == h
            Us = U1.copy()
            Us[idx, :] = 0
            Us[:, idx] = 0
            silenced.append(metrics(*en.predict(Phit, Us), yt))
    t5 = time.perf_counter()
    k = min(30, P)
    cum = en.pc_overlap(U1, k)
    cum_gp = en.pc_overlap(Ugp[0], k)
    t6 = time.perf_counter()
    print(json.dumps({
        'total_s': t6 - t0, 'cpu_s': time.process_time() - c0, 'data_s': t1 - t0, 'features_s': t2 - t1, 'solve_s': t3 - t2, 'predict_s': t4 - t3,
        'silencing_s': t5 - t4, 'pcs_s': t6 - t5, 'iterations': int(res.nit), 'evaluations': evals[0],
        'max_grad': last.get(res.x.tobytes()), 'space': en.space, 'accuracy': m['acc'], 'eg': m['eg'],
        'gp_accuracy': gm['acc'], 'pc_cumulative_k': float(cum[-1]), 'pc_cumulative_k_gp': float(cum_gp[-1]),
        'silenced_eg': [s['eg'] for s in silenced],
    }))


if __name__ == '__main__':
    main()
