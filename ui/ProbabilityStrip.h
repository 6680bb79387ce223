#pragma once

#include <QWidget>

#include <vector>

namespace radiolens {

/// The probability of one class for every slice of a series, as a strip of bars (slice 1 at
/// the left), with the current slice marked and a line at 0.5. Clicking a bar shows that
/// slice. GUI thread only.
class ProbabilityStrip : public QWidget {
    Q_OBJECT
public:
    explicit ProbabilityStrip(QWidget* parent = nullptr);

    /// One probability (0..1) per slice; empty clears the strip.
    void setValues(std::vector<double> values);
    const std::vector<double>& values() const { return m_values; }
    void setCurrentSlice(int slice);
    int currentSlice() const { return m_current; }
    /// The slice whose bar is under widget x position `x`.
    int sliceAt(double x) const;

    QSize sizeHint() const override { return {240, 56}; }

Q_SIGNALS:
    void sliceChosen(int slice);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;

private:
    std::vector<double> m_values;
    int m_current = -1;
};

} // namespace radiolens
