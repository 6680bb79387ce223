#include "ui/ProbabilityStrip.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace radiolens {

ProbabilityStrip::ProbabilityStrip(QWidget* parent)
    : QWidget(parent) {
    setMinimumHeight(40);
    setToolTip(tr("Probability of the class per slice; click to show a slice"));
}

void ProbabilityStrip::setValues(std::vector<double> values) {
    m_values = std::move(values);
    update();
}

void ProbabilityStrip::setCurrentSlice(int slice) {
    m_current = slice;
    update();
}

int ProbabilityStrip::sliceAt(double x) const {
    if (m_values.empty() || width() <= 0) {
        return -1;
    }
    const int n = int(m_values.size());
    return std::clamp(int(x / width() * n), 0, n - 1);
}

void ProbabilityStrip::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), QColor(24, 24, 24));
    if (m_values.empty()) {
        painter.setPen(QColor(140, 140, 140));
        painter.drawText(rect(), Qt::AlignCenter, tr("no per-slice results"));
        return;
    }
    const int n = int(m_values.size());
    const double w = double(width()) / n;
    const int h = height();
    for (int k = 0; k < n; ++k) {
        const double p = std::clamp(m_values[std::size_t(k)], 0.0, 1.0);
        // Green (unlikely) through amber to red (likely).
        const QColor colour = QColor::fromHsvF(std::max(0.0, 0.33 * (1.0 - p)), 0.85, 0.9);
        const double barHeight = std::max(1.0, p * (h - 2));
        painter.fillRect(
            QRectF(k * w, h - barHeight, std::max(1.0, w - (w > 3 ? 1 : 0)), barHeight), colour);
    }
    painter.setPen(QPen(QColor(200, 200, 200, 120), 1, Qt::DashLine));
    painter.drawLine(QPointF(0, h / 2.0), QPointF(width(), h / 2.0));
    if (m_current >= 0 && m_current < n) {
        painter.setPen(QPen(QColor(80, 170, 255), 2));
        const double x = (m_current + 0.5) * w;
        painter.drawLine(QPointF(x, 0), QPointF(x, h));
    }
}

void ProbabilityStrip::mousePressEvent(QMouseEvent* event) {
    const int slice = sliceAt(event->position().x());
    if (slice >= 0) {
        Q_EMIT sliceChosen(slice);
    }
}

void ProbabilityStrip::mouseMoveEvent(QMouseEvent* event) {
    if (event->buttons() & Qt::LeftButton) {
        mousePressEvent(event);
    }
}

} // namespace radiolens
